"""Saved replies: the text staff insert in the inbox's compose box.

Same language and checks as automation rules and campaigns, with the client's
variables, except personal links: the text lands in a staff member's compose box,
where a live portal or unsubscribe link must never be shown (tick *Add the portal
link* to send one).
"""

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from clients.roles import is_manager
from messaging import templating
from messaging.models import SavedReply

VARIABLES = {
    name: help for name, help in templating.CLIENT_VARIABLES.items() if name not in templating.LINK_VARIABLES
}


def validate_body(text: str):
    return templating.validate_template(text, allowed=VARIABLES)


def visible_replies(user) -> QuerySet:
    """A trainer's own and the studio-wide ones; a manager's: all."""
    replies = SavedReply.objects.select_related("owner")
    return replies if is_manager(user) else replies.filter(Q(owner__isnull=True) | Q(owner=user))


def may_edit(user, reply: SavedReply) -> bool:
    return is_manager(user) or (reply.owner_id is not None and reply.owner_id == user.pk)


def saved_reply_save(*, reply: SavedReply, user) -> SavedReply:
    """A trainer's saved replies are hers; a manager may write studio-wide ones."""
    if not is_manager(user):
        reply.owner = user
    reply.full_clean()
    reply.save()
    return reply


def rendered_for(*, client, user) -> list[tuple[SavedReply, str]]:
    """Each saved reply ``user`` may use, rendered for ``client`` (a broken one is left out)."""
    rendered = []
    for reply in visible_replies(user):
        try:
            template = validate_body(reply.body)
            names = templating.used_variables(template)
            text = templating.render(template, templating.context_for(client=client, names=names))
        except ValidationError:  # saved before a check existed: left out, not a 500
            continue
        rendered.append((reply, text))
    return rendered
