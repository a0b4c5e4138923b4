"""The local zone as botocore's parser gives it (dateutil's ``tzlocal()``),
for interpreters without dateutil. smneo uses dateutil's own ``tzlocal`` when
it is importable (it is wherever botocore is); this class is the stand-in:
a tzinfo whose offset, DST and name are looked up for each wall-clock time
(``fold`` included), so arithmetic across a DST change lands on the new
offset as it does with botocore's timestamps."""
import datetime as _dt
import time as _time

_EPOCH = _dt.datetime(1970, 1, 1)
_ZERO = _dt.timedelta(0)


class tzlocal(_dt.tzinfo):
    """The machine's local time zone (the C library's, TZ included)."""

    @staticmethod
    def _local(dt):
        # a naive datetime's timestamp() reads it as local time, fold honoured
        return _time.localtime(dt.replace(tzinfo=None).timestamp())

    def utcoffset(self, dt):
        if dt is None:
            return None
        return _dt.timedelta(seconds=self._local(dt).tm_gmtoff)

    def dst(self, dt):
        if dt is None:
            return None
        tm = self._local(dt)
        if tm.tm_isdst <= 0:
            return _ZERO
        return _dt.timedelta(seconds=tm.tm_gmtoff + _time.timezone)

    def tzname(self, dt):
        if dt is None:
            return _time.tzname[0]
        return self._local(dt).tm_zone

    def fromutc(self, dt):
        if not isinstance(dt, _dt.datetime) or dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        seconds = (dt.replace(tzinfo=None) - _EPOCH) // _dt.timedelta(microseconds=1)
        local = _dt.datetime.fromtimestamp(seconds // 10**6)  # naive local, fold set
        return local.replace(microsecond=seconds % 10**6, tzinfo=self)

    def __eq__(self, other):
        return isinstance(other, tzlocal)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "tzlocal()"

    def __reduce__(self):
        return (tzlocal, ())
