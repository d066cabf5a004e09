from . import main, notifications
