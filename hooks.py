def post_init_hook(env):
    """Take over from Odoo's built-in microsoft_calendar when its links were preserved before its uninstall
    (data/preserve_microsoft_calendar.sql; README "Migrating from Odoo's Outlook Calendar")."""
    env["outlook.mailbox"]._outlook_take_over_builtin()
