from . import (
    test_access,
    test_connect_flow,
    test_cron,
    test_install_settings,
    test_notifications,
    test_policies,
    test_recurrence,
    test_reliability,
    test_sync_inbound,
    test_sync_outbound,
    test_sync_running,
    test_ui_calendar_button,
)
