"""Strings of the console's theme (django-unfold ships no German catalogue).

Never imported: the module exists so that ``makemessages`` finds these messages and keeps them
in ``locale/de``; Django's translation then uses the project's catalogue for unfold's templates
and code too (``LOCALE_PATHS`` come first).
"""

from django.utils.translation import gettext_noop

UNFOLD_MESSAGES = [
    gettext_noop("%(class_name)s %(instance)s"),
    gettext_noop("Add row"),
    gettext_noop("All applications"),
    gettext_noop("Apply Filters"),
    gettext_noop("Click to cancel"),
    gettext_noop("Click to download"),
    gettext_noop("Dark"),
    gettext_noop("Dataset not found. No action performed."),
    gettext_noop("Date from"),
    gettext_noop("Date to"),
    gettext_noop("Expand row"),
    gettext_noop("Filters"),
    gettext_noop("General"),
    gettext_noop("Go back"),
    gettext_noop("Light"),
    gettext_noop("Loading more results..."),
    gettext_noop("More actions"),
    gettext_noop("Next"),
    gettext_noop("No data"),
    gettext_noop("No recent searches"),
    gettext_noop("No results found"),
    gettext_noop("No results matching your query"),
    gettext_noop("Previous"),
    gettext_noop("Recent searches"),
    gettext_noop("Record picture"),
    gettext_noop("Reset filters"),
    gettext_noop("Run"),
    gettext_noop("Select action"),
    gettext_noop("Select action to run"),
    gettext_noop("Select all rows"),
    gettext_noop("Select currency"),
    gettext_noop("Select format"),
    gettext_noop("Select record"),
    gettext_noop("Select value"),
    gettext_noop("Submit"),
    gettext_noop("System"),
    gettext_noop("This item will be deleted."),
    gettext_noop(
        "This page yielded into no results. Create a new item or reset your filters."
    ),
    gettext_noop("Toggle password visibility"),
    gettext_noop("Type to search"),
    gettext_noop("You have been successfully logged out from the administration"),
]
