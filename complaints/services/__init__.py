from .complaints import (
    ComplaintInvalid,
    complaint_create,
    complaint_delete,
    complaint_problems,
    complaint_resolve,
    complaint_update,
)
from .imports import ComplaintImportReport, ImportFileError, complaints_import

__all__ = [
    "ComplaintImportReport",
    "ComplaintInvalid",
    "ImportFileError",
    "complaint_create",
    "complaint_delete",
    "complaint_problems",
    "complaint_resolve",
    "complaint_update",
    "complaints_import",
]
