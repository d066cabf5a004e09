from . import (
    calendar_event,
    outlook_event_link,
    outlook_mailbox,
    res_config_settings,
    res_users,
)
