"""Who uses the help desk: end users, agents and admins; agents' departments and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

if TYPE_CHECKING:
    from tickets.models import Department


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # Addresses are compared case-insensitively everywhere (login, mail threading,
        # the API): store them lower-cased once.
        return (email or "").strip().lower()

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra["kind"] = User.Kind.ADMIN
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=self.normalize_email(username))


class Organization(models.Model):
    name = models.CharField(max_length=128, unique=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractBaseUser):
    """Everyone who signs in or writes in: end users, agents and admins.

    An end user who only ever emailed or filed a ticket as a guest has a row with an
    unusable password; registering sets the password on that same row, so that their
    earlier tickets are theirs at once.
    """

    class Kind(models.TextChoices):
        END_USER = "end_user", "End user"
        AGENT = "agent", "Agent"
        ADMIN = "admin", "Admin"

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=128)
    phone = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.END_USER)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    is_active = models.BooleanField(default=True)
    signature = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        indexes = [models.Index(fields=["kind", "is_active"])]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def clean(self) -> None:
        super().clean()
        self.email = UserManager.normalize_email(self.email)

    @property
    def is_agent(self) -> bool:
        return self.kind in (self.Kind.AGENT, self.Kind.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.kind == self.Kind.ADMIN

    # The Django admin is the admins' back door: it asks for these.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_active and self.is_admin

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_superuser

    def has_perms(self, perm_list: Any, obj: object = None) -> bool:
        return self.is_superuser

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_superuser

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Perm(models.TextChoices):
    """What a role lets an agent do on a department's tickets."""

    VIEW = "view"
    REPLY = "reply"
    ASSIGN = "assign"
    TRANSFER = "transfer"
    EDIT = "edit", "Edit properties"
    CLOSE = "close"
    DELETE = "delete"


class Role(models.Model):
    """A named set of permissions; seeing the department's tickets comes with every role."""

    name = models.CharField(max_length=64, unique=True)
    can_reply = models.BooleanField(default=True)
    can_assign = models.BooleanField(default=True)
    can_transfer = models.BooleanField(default=True)
    can_edit = models.BooleanField(default=True, help_text="Change priority, SLA plan, help topic and due date.")
    can_close = models.BooleanField(default=True, help_text="Resolve, close and reopen.")
    can_delete = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def allows(self, perm: Perm | str) -> bool:
        if perm == Perm.VIEW:
            return True
        return bool(getattr(self, f"can_{perm}"))

    @property
    def permissions(self) -> list[str]:
        return [p.value for p in Perm if self.allows(p)]


class DepartmentMembership(models.Model):
    """An agent's access to one department, with the role they hold there."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    department: models.ForeignKey[Department, Department] = models.ForeignKey(
        "tickets.Department", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    is_primary = models.BooleanField(default=False)
    is_available = models.BooleanField(default=True, help_text="Takes part in round-robin assignment.")

    class Meta:
        ordering = ["-is_primary", "department__name"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "department"], name="membership_agent_department_unique"),
            models.UniqueConstraint(
                fields=["agent"], condition=models.Q(is_primary=True), name="membership_one_primary_per_agent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.department} as {self.role}"
