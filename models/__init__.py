from . import (
    calendar_event,
    ir_http,
    outlook_event_link,
    outlook_mailbox,
    outlook_notification_inbox,
    outlook_mailbox_token,
    outlook_policy,
    outlook_pull,
    outlook_queue_job,
    outlook_push,
    outlook_reset_wizard,
    outlook_series,
    outlook_subscription,
    outlook_sync_log,
    res_config_settings,
    res_users,
)

# Extensions of the models above, imported after them: their overrides come later in the MRO, and the
# dashboard's SQL view is created once the columns it reads exist.
from . import calendar_event_status, outlook_mailbox_admin, outlook_self_service  # noqa: E402, I001
from . import outlook_dashboard  # noqa: E402, I001
from . import outlook_migration  # noqa: E402, I001
from . import outlook_held  # noqa: E402, I001
