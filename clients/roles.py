"""The two staff roles and what each may do.

*Trainer*: staff who see and edit only their own clients and those clients'
sessions, payments and messages (the admin filters by ``trainer``).
*Studio manager*: sees and edits everything. Superusers are treated as managers.

The groups are created by a migration; their permissions are re-synced after
every ``migrate`` because later apps add models (and permissions) of their own.
"""

from django.contrib.auth.models import Group, Permission

TRAINER = "Trainer"
STUDIO_MANAGER = "Studio manager"

# (app_label, model, actions) a trainer may use on their own rows.
TRAINER_PERMISSIONS = {
    ("clients", "client"): ("view", "add", "change"),
    ("clients", "tag"): ("view", "add"),
    # Read-only: the contact-preference history shown on their clients' pages.
    ("clients", "consentchange"): ("view",),
    ("scheduling", "session"): ("view", "add", "change"),
    # Their own session types and working hours (studio-wide types are the manager's).
    ("scheduling", "sessiontype"): ("view", "add", "change", "delete"),
    ("scheduling", "availability"): ("view", "add", "change"),
    ("scheduling", "workinghours"): ("view", "add", "change", "delete"),
    ("scheduling", "dateoverride"): ("view", "add", "change", "delete"),
    # Their clients' waitlist requests: read, and withdraw for the client (clients create them).
    ("scheduling", "waitlistrequest"): ("view", "change"),
    ("billing", "payment"): ("view", "add", "change"),
    # They sell the studio's package types and adjust their own clients' credits.
    ("billing", "packagetype"): ("view",),
    ("billing", "clientpackage"): ("view", "add", "change"),
    ("billing", "creditentry"): ("view",),
    # Their clients' no-show and late-cancel charges (waiving is a change); the studio's
    # policy itself is the manager's, read-only for them.
    ("billing", "sessioncharge"): ("view", "change"),
    ("billing", "studiopolicy"): ("view",),
    # Read-only, and emailed to the client from the list; recorded from their payment's page.
    ("billing", "receipt"): ("view",),
    ("messaging", "message"): ("view", "add"),
    ("messaging", "messageevent"): ("view",),
    ("messaging", "slotoffer"): ("view",),
    # Their own saved replies; the studio-wide ones read-only (the admin decides per row).
    ("messaging", "savedreply"): ("view", "add", "change", "delete"),
    # Rules scoped to their own clients (the admin forces the scope); studio-wide ones read-only.
    ("automation", "automationrule"): ("view", "add", "change", "delete"),
    ("automation", "automationlog"): ("view",),
    # A trainer's segments and campaigns only ever reach their own clients.
    ("campaigns", "segment"): ("view", "add", "change", "delete"),
    ("campaigns", "campaign"): ("view", "add", "change", "delete"),
}
MANAGER_APPS = ("clients", "scheduling", "billing", "messaging", "automation", "campaigns")
# Login throttling (django-axes): managers see attempts, lockouts and logins, and unlock
# a username+address by deleting its attempt. Only axes writes these rows.
MANAGER_PERMISSIONS = {
    ("axes", "accessattempt"): ("view", "delete"),
    ("axes", "accesslog"): ("view",),
    ("axes", "accessfailurelog"): ("view",),
}


def is_manager(user) -> bool:
    """Studio managers and superusers see the whole studio."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_fitcrm_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name=STUDIO_MANAGER).exists()
        user._fitcrm_is_manager = cached
    return cached


def sync_role_permissions(sender=None, **kwargs):
    """Give each role exactly its permissions (idempotent)."""
    trainer, _ = Group.objects.get_or_create(name=TRAINER)
    manager, _ = Group.objects.get_or_create(name=STUDIO_MANAGER)

    trainer.permissions.set(_permissions(TRAINER_PERMISSIONS))
    manager.permissions.set(
        [
            *Permission.objects.filter(content_type__app_label__in=MANAGER_APPS),
            *_permissions(MANAGER_PERMISSIONS),
        ]
    )


def _permissions(table) -> list:
    perms = []
    for (app_label, model), actions in table.items():
        codenames = [f"{action}_{model}" for action in actions]
        perms += Permission.objects.filter(
            content_type__app_label=app_label, content_type__model=model, codename__in=codenames
        )
    return perms


def has_role_perm(user, perm: str) -> bool:
    """``user.has_perm(perm)`` for staff, in one query (the user's groups) rather than
    two (user and group permission tables) when a role grants it — the roles'
    permissions are fixed above. Also answers ``is_manager`` for the request.
    Anyone else falls back to ``has_perm``.
    """
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    names = set(user.groups.values_list("name", flat=True))
    user._fitcrm_is_manager = STUDIO_MANAGER in names
    app_label, _, codename = perm.partition(".")
    if STUDIO_MANAGER in names and app_label in MANAGER_APPS:
        return True
    if TRAINER in names:
        action, _, model = codename.partition("_")
        if action in TRAINER_PERMISSIONS.get((app_label, model), ()):
            return True
    return user.has_perm(perm)
