/** @odoo-module **/

import { registry } from "@web/core/registry";

// The Calendar's Outlook button in each connection state (started by tests/test_ui_calendar_button.py).
registry.category("web_tour.tours").add("outlook_calendar_sync_button_disconnected", {
    steps: () => [
        { trigger: ".o_calendar_container" },
        { trigger: "#outlook_calendar_sync .o_outlook_sync_button.btn-primary:contains(Outlook)" },
    ],
});

registry.category("web_tour.tours").add("outlook_calendar_sync_button_connected", {
    steps: () => [
        { trigger: ".o_calendar_container" },
        { trigger: "#outlook_calendar_sync .o_outlook_sync_button:contains(Outlook)", run: "click" },
        { trigger: ".o_notification:contains(a sync has been scheduled)" },
    ],
});

registry.category("web_tour.tours").add("outlook_calendar_sync_button_reconnect", {
    steps: () => [
        { trigger: ".o_calendar_container" },
        { trigger: "#outlook_calendar_sync .o_outlook_sync_button.btn-warning:contains(Reconnect Outlook)" },
    ],
});
