from .alerts import (  # noqa: F401
    alert_owner_email_send,
    alert_owner_emails_requeue,
    alert_rule_create,
    alert_rule_save,
    alert_summaries_send,
    alert_webhook_post,
    alerts_evaluate,
    alerts_evaluate_since,
    alerts_sweep,
)
from .cases import (  # noqa: F401
    CaseEmailRefused,
    CaseError,
    case_assign,
    case_close,
    case_email_deliver,
    case_email_retry_wait,
    case_email_send,
    case_emails_requeue,
    case_note_add,
    case_open,
    case_status_set,
)
