"""smneo: Python binding of the smneo SageMaker Neo client library."""
# the binding engineer replaces this file
__all__ = []
