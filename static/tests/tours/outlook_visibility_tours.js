/** @odoo-module **/

import { registry } from "@web/core/registry";
import { session } from "@web/session";

// A step after which the page unloads (a reload, a redirect to the consent page): Odoo 19's tours must be told
// ({ expectUnloadPage: true }, else the unload fails the tour), Odoo 18's refuse that key in a step.
const UNLOADS_PAGE = session.server_version_info?.[0] >= 19 ? { expectUnloadPage: true } : {};

// Started by tests/test_ui_visibility.py. `shot(name)` asks the test for a screenshot and waits until it is
// saved (tests/ui_common.py), so each picture shows the screen the tour has just checked.
function shot(name) {
    return [
        {
            content: `screenshot ${name}`,
            trigger: "body",
            run() {
                console.log(`outlook_screenshot:${name}`);
            },
        },
        { content: `screenshot ${name} saved`, trigger: `body[data-outlook-shot='${name}']` },
    ];
}

// The values tests/common.py registers in the emulator.
const CLIENT_ID = "5f3c1a3e-6d1b-4a43-9c1e-0d6f0c1b2a01";
const CLIENT_SECRET = "emulated-client-secret";

registry.category("web_tour.tours").add("outlook_admin_enters_credentials", {
    steps: () => [
        {
            trigger: "#outlook_calendar_sync_setting",
            run() {
                document.querySelector("#outlook_calendar_sync_setting").scrollIntoView({ block: "start" });
            },
        },
        { trigger: "#outlook_calendar_sync_setting div[name=outlook_client_id] input", run: `edit ${CLIENT_ID}` },
        {
            trigger: "#outlook_calendar_sync_setting div[name=outlook_client_secret] input",
            run: `edit ${CLIENT_SECRET}`,
        },
        ...shot("01_admin_enters_credentials"),
        { trigger: ".o_form_button_save", run: "click", ...UNLOADS_PAGE },
        // saved: the page reloads (the body loses the screenshot's mark); the secret is stored, never shown
        { trigger: "body:not([data-outlook-shot]) #outlook_calendar_sync_setting:contains(A secret is stored)" },
        {
            trigger: "#outlook_calendar_sync_setting button[name=action_outlook_test_connection]",
            run() {
                document.querySelector("#outlook_calendar_sync_setting").scrollIntoView({ block: "start" });
                this.anchor.click();
            },
        },
        { trigger: ".o_notification:contains(answers)" },
        ...shot("02_admin_test_connection"),
    ],
});

registry.category("web_tour.tours").add("outlook_user_connects", {
    steps: () => [
        { trigger: ".o_calendar_container" },
        {
            trigger: "#outlook_calendar_sync .o_outlook_sync_button.btn-primary:contains(Outlook)",
            run: "click",
            ...UNLOADS_PAGE,
        },
        // Chromium now shows the emulator's consent page: the test screenshots it and clicks Accept there
        // (the tour runtime does not exist on that origin); Microsoft's redirect brings it back here.
        { trigger: "#outlook_calendar_sync .o_outlook_sync_button .fa-check", timeout: 20000 },
        ...shot("04_calendar_connected"),
        // the preferences show the connection and the user's own controls
        { trigger: ".o_user_menu button", run: "click" },
        // the user menu's preferences: "settings" on Odoo 18, "preferences" on Odoo 19
        { trigger: ".dropdown-item[data-menu=settings], .dropdown-item[data-menu=preferences]", run: "click" },
        { trigger: ".modal div[name=outlook_sync_state]:contains(Connected)" },
        { trigger: ".modal div[name=outlook_mailbox_address]:contains(anna@contoso.test)" },
        { trigger: ".modal button.o_outlook_pref_pause" },
        {
            trigger: ".modal button.o_outlook_pref_reset",
            run() {
                this.anchor.scrollIntoView({ block: "center" });
            },
        },
        ...shot("05_preferences_connected"),
        { trigger: ".modal button.o_outlook_pref_pause", run: "click" },
        { trigger: ".o_notification:contains(paused)" },
        { trigger: "#outlook_calendar_sync .o_outlook_paused" },
    ],
});

registry.category("web_tour.tours").add("outlook_event_status_retry", {
    steps: () => [
        { trigger: ".o_calendar_container" },
        { trigger: ".fc-event.o_outlook_sync_error:contains(Quarterly review) .o_outlook_sync_icon" },
        { trigger: "#outlook_calendar_sync .o_outlook_progress:contains(120 / 1000)" },
        ...shot("06_calendar_event_in_error"),
        { trigger: ".fc-event.o_outlook_sync_error:contains(Quarterly review)", run: "click" },
        { trigger: ".o_cw_popover .o_cw_popover_edit", run: "click" },
        { trigger: ".o_form_view .o_notebook .nav-link:contains(Outlook)", run: "click" },
        { trigger: ".o_form_view div[name=outlook_status] .badge:contains(Error)" },
        {
            trigger: ".o_form_view .o_outlook_status_message:contains(Outlook refused this event)",
            run() {
                this.anchor.scrollIntoView({ block: "center" });
            },
        },
        ...shot("07_event_error_and_retry"),
        { trigger: ".o_form_view button.o_outlook_retry", run: "click" },
        { trigger: ".o_notification:contains(Marked for retry)" },
        { trigger: ".o_form_view div[name=outlook_status] .badge:contains(Pending)" },
        { trigger: ".o_breadcrumb a:contains(Meetings)", run: "click" },
        { trigger: ".fc-event:contains(Quarterly review):not(.o_outlook_sync_error)" },
    ],
});

registry.category("web_tour.tours").add("outlook_admin_dashboard", {
    steps: () => [
        { trigger: ".o_list_renderer .o_data_row:contains(Anna) .badge:contains(Connected)" },
        { trigger: ".o_list_renderer .o_data_row:contains(Bob) .badge:contains(Reconnect needed)" },
        { trigger: ".o_list_renderer .o_data_row .badge:contains(Never connected)" },
        { trigger: ".o_list_renderer .o_data_row:contains(Carol):contains(1200 / 2200)" },
        ...shot("08_dashboard"),
        { trigger: ".o_data_row:contains(Anna) button.o_outlook_row_pause", run: "click" },
        { trigger: ".o_data_row:contains(Anna) .badge:contains(Paused)" },
        { trigger: ".o_data_row:contains(Anna) button[name=action_outlook_sync_log]", run: "click" },
        { trigger: ".o_list_renderer .o_data_row .badge:contains(Error)" },
        { trigger: ".o_searchview_dropdown_toggler", run: "click" },
        { trigger: ".o_filter_menu .o-dropdown-item:contains(Errors only)", run: "click" },
        { trigger: ".o_searchview_facet:contains(Errors only)" },
        { trigger: ".o_searchview_dropdown_toggler", run: "click" },
        { trigger: "body:not(:has(.o_filter_menu))" },
        { trigger: ".o_list_renderer .o_data_row:contains(could not be read)" },
        ...shot("09_sync_log_errors"),
        { trigger: ".o_data_row:contains(could not be read) button.o_outlook_log_retry", run: "click" },
        { trigger: ".o_notification:contains(Marked for retry)" },
    ],
});
