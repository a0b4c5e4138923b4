"""Executes a .ipynb through IPython's API, as a kernel would, without Jupyter:

    python3 tests/python/notebook_runner.py NOTEBOOK OUTPUT.json

Each code cell runs in one InteractiveShell (cwd: the notebook's directory).
The shell's display publisher and display hook record what a kernel would
send (display_data, update_display_data, execute_result; stdout as stream),
so code that updates a display by its display_id does what it does under
ipykernel. OUTPUT.json: {"notebook": the notebook with its outputs (updates
applied in place, as a front end does), "messages": every message in order}.
Exits 1 when a cell raised (its traceback is in the output too).
"""
import contextlib
import io
import json
import os
import sys
import traceback

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

MESSAGES = []


class KernelPublisher(DisplayPublisher):
    """display() -> display_data; update_display() -> update_display_data."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        MESSAGES.append({"msg_type": "update_display_data" if update else "display_data",
                         "data": data, "metadata": metadata or {}, "transient": transient or {}})


class KernelHook(DisplayHook):
    """A cell's last expression -> execute_result (every mime type, no printing)."""

    def start_displayhook(self):
        pass

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        MESSAGES.append({"msg_type": "execute_result", "data": format_dict, "metadata": md_dict or {}})

    def finish_displayhook(self):
        pass


def run(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    os.chdir(os.path.dirname(os.path.abspath(path)))
    sys.path.insert(0, "")  # as ipykernel: the working directory is importable
    shell = InteractiveShell.instance(display_pub_class=KernelPublisher, displayhook_class=KernelHook,
                                      colors="NoColor")
    failed = False
    for n, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        first = len(MESSAGES)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            result = shell.run_cell(source, store_history=True)
        if out.getvalue():
            MESSAGES.append({"msg_type": "stream", "name": "stdout", "text": out.getvalue()})
        if not result.success:
            exc = result.error_in_exec or result.error_before_exec
            MESSAGES.append({"msg_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
                             "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__)})
            failed = True
        outputs = []
        for m in MESSAGES[first:]:
            if m["msg_type"] == "update_display_data":
                continue
            o = {k: v for k, v in m.items() if k != "msg_type"}
            o["output_type"] = m["msg_type"]
            if o["output_type"] == "execute_result":
                o["execution_count"] = n + 1
            outputs.append(o)
        cell["outputs"], cell["execution_count"] = outputs, n + 1
        if failed:
            break
    # a front end replaces a display's data when an update with its display_id arrives
    shown = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", ()):
            if o["output_type"] == "display_data" and o["transient"].get("display_id"):
                shown[o["transient"]["display_id"]] = o
    for m in MESSAGES:
        if m["msg_type"] == "update_display_data" and m["transient"].get("display_id") in shown:
            shown[m["transient"]["display_id"]]["data"] = m["data"]
    return nb, failed


if __name__ == "__main__":
    nb, failed = run(sys.argv[1])
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump({"notebook": nb, "messages": MESSAGES}, f, indent=1, default=str)
    sys.exit(1 if failed else 0)
