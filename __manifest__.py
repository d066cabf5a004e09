{
    "name": "Outlook Calendar Sync",
    "summary": "Two-way sync between Odoo Calendar and Microsoft 365 / Outlook through Microsoft Graph",
    "version": "18.0.1.0.0",
    "category": "Productivity/Calendar",
    "website": "https://github.com/outlook-calendar-sync/outlook_calendar_sync",
    "author": "outlook_calendar_sync developers",
    "license": "LGPL-3",
    "depends": ["calendar", "base_setup"],
    "excludes": ["microsoft_calendar", "microsoft_account"],
    "external_dependencies": {"python": ["msal", "requests"]},
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/outlook_mailbox_views.xml",
        "views/outlook_subscription_views.xml",
        "views/res_config_settings_views.xml",
        "views/res_users_views.xml",
        "views/calendar_event_views.xml",
        "views/outlook_policy_views.xml",
        "views/outlook_templates.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "outlook_calendar_sync/static/src/**/*",
        ],
        "web.assets_tests": [
            "outlook_calendar_sync/static/tests/tours/**/*",
        ],
    },
    "installable": True,
    "application": False,
}
