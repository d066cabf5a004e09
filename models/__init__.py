from . import (
    calendar_event,
    outlook_event_link,
    outlook_mailbox,
    outlook_policy,
    outlook_pull,
    outlook_push,
    outlook_series,
    outlook_subscription,
    outlook_sync_log,
    res_config_settings,
    res_users,
)
