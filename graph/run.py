"""What the mailboxes of one sync run share: settings, one HTTP session, MSAL's discovery cache."""

from dataclasses import dataclass, field

from .auth import MailboxAuth
from .client import CalendarClient
from .http import make_session


@dataclass
class GraphRun:
    """One run of the sync (a cron batch): build it once, then ask it for each mailbox's clients.

    :param settings: the :class:`~.auth.AuthSettings` read at the start of the run
    """

    settings: object
    session: object = None
    http_cache: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.session is None:
            self.session = make_session(self.settings.ca_bundle)

    def auth(self, cache_blob=None):
        """An MSAL client for one mailbox's token cache (discovery is shared by the whole run)."""
        return MailboxAuth(self.settings, self.session, cache_blob, http_cache=self.http_cache)

    def client(self, auth):
        """The Graph client of the mailbox whose tokens ``auth`` holds."""
        return CalendarClient(
            self.session,
            self.settings.graph_url,
            auth.access_token,
            refresh_token=lambda: auth.access_token(force_refresh=True),
        )
