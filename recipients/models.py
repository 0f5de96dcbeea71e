"""Recipient lists, unsubscribe lists and the imports that fill them.

Phones are stored as international digits without '+' (MessageWhiz's form, e.g. "380501234567").
Member tables can hold millions of rows, so they carry no per-row timestamps and no index beyond
the (list, phone) unique constraint, which also serves every per-list lookup.
"""

from django.conf import settings
from django.db import models

from messaging.mirror import MirroredModel

# MessageWhiz's field limits: first/last name 50, email and url 255, anything else 5000.
NAME_MAX = 50
EMAIL_URL_MAX = 255
OTHER_MAX = 5000
# E.164 numbers have at most 15 digits, but libphonenumber accepts a few longer national
# formats (Japanese and Indonesian toll-free numbers reach 19 digits with the country code).
PHONE_MAX = 20


class UploadCounts(models.Model):
    """What MessageWhiz said it took at the list's last upload, against what we sent: its answer's
    `inserted` (or the list's size) and `wrong`. None: not known (never uploaded, or not answered)."""

    remote_accepted = models.PositiveIntegerField(null=True, blank=True, editable=False)
    remote_wrong = models.PositiveIntegerField(null=True, blank=True, editable=False)
    remote_expected = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def remote_counts(self) -> str:
        """"MessageWhiz accepted 2 of 3 (1 wrong)", or "" when it never said."""
        if self.remote_accepted is None or self.remote_expected is None:
            return ""
        wrong = f" ({self.remote_wrong} wrong)" if self.remote_wrong is not None else ""
        return f"MessageWhiz accepted {self.remote_accepted} of {self.remote_expected}{wrong}"


class RecipientList(MirroredModel, UploadCounts):
    name = models.CharField(max_length=255)
    # Kept exact by every service that changes membership, so list pages never count a million rows.
    recipient_count = models.PositiveIntegerField(default=0, editable=False)
    # Token names of the custom columns, from the imported file's header: {"custom1": "city"}, so
    # a message can say {{city}} (compose sends it as {{custom1}}, the token MessageWhiz knows).
    column_names = models.JSONField(default=dict, blank=True, editable=False)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class Recipient(models.Model):
    # The optional columns have database defaults so bulk loads name only the mapped columns.
    # db_index=False: the (list, phone) unique index already starts with the list column.
    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.CASCADE, related_name="recipients", db_index=False
    )
    phone = models.CharField(max_length=PHONE_MAX)
    first_name = models.CharField(max_length=NAME_MAX, blank=True, db_default="")
    last_name = models.CharField(max_length=NAME_MAX, blank=True, db_default="")
    email = models.CharField(max_length=EMAIL_URL_MAX, blank=True, db_default="")
    url = models.CharField(max_length=EMAIL_URL_MAX, blank=True, db_default="")
    custom = models.TextField(blank=True, db_default="")
    custom1 = models.TextField(blank=True, db_default="")
    custom2 = models.TextField(blank=True, db_default="")
    custom3 = models.TextField(blank=True, db_default="")
    custom4 = models.TextField(blank=True, db_default="")
    # An IANA zone that overrides the one derived from the number (quiet hours); empty: derived.
    timezone = models.CharField(max_length=64, blank=True, db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_list", "phone"], name="recipient_unique_phone_per_list"
            )
        ]

    def __str__(self):
        return self.phone


class UnsubscribeList(MirroredModel, UploadCounts):
    name = models.CharField(max_length=255)
    # MessageWhiz's `unsubscribers_amount`.
    member_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class UnsubscribeNumber(models.Model):
    unsubscribe_list = models.ForeignKey(
        UnsubscribeList, on_delete=models.CASCADE, related_name="numbers", db_index=False
    )
    phone = models.CharField(max_length=PHONE_MAX)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unsubscribe_list", "phone"], name="unsubscribe_number_unique_phone_per_list"
            )
        ]

    def __str__(self):
        return self.phone


class ImportJob(models.Model):
    """One file (or pasted text) being loaded into a recipient or unsubscribe list.

    The job is the only thing an import writes before it succeeds: the list itself changes in a
    single transaction at the very end, so a failed job leaves it exactly as it was.
    """

    class Kind(models.TextChoices):
        RECIPIENTS = "recipients", "Recipient list"
        UNSUBSCRIBES = "unsubscribes", "Unsubscribe list"

    class Mode(models.TextChoices):
        NEW = "new", "Create a new list"
        APPEND = "append", "Add to the list"
        REPLACE = "replace", "Replace the whole list"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        READING = "reading", "Reading and checking rows"
        SAVING = "saving", "Saving the list"

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.RECIPIENTS)
    mode = models.CharField(max_length=7, choices=Mode.choices, default=Mode.NEW)
    # Set from the start for append/replace; for a new list, set when the import succeeds.
    recipient_list = models.ForeignKey(
        RecipientList, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    unsubscribe_list = models.ForeignKey(
        UnsubscribeList, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    list_name = models.CharField(
        max_length=255, blank=True, help_text="Name of the list to create (or rename to, on replace)"
    )

    source = models.FileField(upload_to="imports/sources/%Y/%m/", max_length=500)
    source_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's own name")
    mapping = models.JSONField(default=dict, help_text='Column index → marker, e.g. {"0": "phone_number"}')
    truncate = models.BooleanField(default=False)
    default_country = models.CharField(max_length=2, blank=True, help_text="ISO code for national numbers")
    sheet = models.CharField(max_length=255, blank=True, help_text="Sheet index or name (spreadsheets)")
    has_header = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_estimated = models.PositiveIntegerField(null=True, blank=True)

    # The result in MessageWhiz's vocabulary; total = inserted + wrong + duplicate.
    inserted = models.PositiveIntegerField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    wrong = models.PositiveIntegerField(null=True, blank=True)
    duplicate = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # CSV of "row,column,value,reason" for every row not loaded (or, for a refused import, every
    # field over its limit). A file rather than rows in the database: it can hold 100k+ lines
    # and is only ever downloaded whole.
    rejects = models.FileField(upload_to="imports/rejects/%Y/%m/", max_length=500, blank=True)
    rejects_count = models.PositiveIntegerField(default=0)

    # Who started it: the consent ledger's actor for what the import records.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="recipients", unsubscribe_list__isnull=True)
                | models.Q(kind="unsubscribes", recipient_list__isnull=True),
                name="import_job_targets_one_kind_of_list",
            )
        ]

    def __str__(self):
        return f"Import {self.pk} ({self.get_status_display()})"

    @property
    def target_list(self):
        return self.recipient_list if self.kind == self.Kind.RECIPIENTS else self.unsubscribe_list

    @property
    def result(self) -> dict | None:
        if self.status != self.Status.SUCCEEDED:
            return None
        return {
            "inserted": self.inserted, "total": self.total, "wrong": self.wrong, "duplicate": self.duplicate,
        }

    @property
    def progress(self) -> float | None:
        """Fraction of the file read, 0..1; None while the size is unknown."""
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        if not self.rows_estimated:
            return None
        return min(1.0, self.rows_done / self.rows_estimated)


class ConsentEvent(models.Model):
    """One opt-in or opt-out of a number towards an account, with its proof. Append-only: nothing
    in the product updates or deletes a row, except GDPR erasure, which replaces `phone` with a
    hash (recipients.consent). The current state (`Suppression`) is derived from it."""

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in"
        OPT_OUT = "opt_out", "Opt-out"

    class Source(models.TextChoices):
        IMPORT = "import", "Import"
        KEYWORD = "keyword", "Keyword reply"
        LINK = "link", "Unsubscribe link"
        MANUAL = "manual", "Manual change"
        API = "api", "API"

    # Indexes: each one is paid on every row a million-row import writes here, so no more than the
    # reads need (by account and phone: consent_account_phone, which also serves the account alone).
    # No database constraints on the two foreign keys: PostgreSQL checks one with a query per row
    # at commit, which cost a million-row import more time than writing its ledger. Deleting an
    # account or a user goes through Django, which still protects the one and nulls the other
    # (nothing deletes either in raw SQL), so the references stay as sound as the constraint made them.
    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.PROTECT, related_name="+",
                                db_index=False, db_constraint=False)
    phone = models.CharField(max_length=80)  # digits, or "erased:<sha256>" after erasure
    kind = models.CharField(max_length=7, choices=Kind.choices)
    source = models.CharField(max_length=7, choices=Source.choices)
    # What proves it: the file and job, the inbound message, the link, the API token, a note.
    evidence = models.JSONField(default=dict, blank=True)
    # No index: only deleting a user reads by actor (to null it), a rare scan of the ledger.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False, db_constraint=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["account", "phone", "created_at"], name="consent_account_phone"),
            # A number's history across accounts (GDPR lookup and erasure); no LIKE index with it.
            models.Index(fields=["phone"], name="consent_phone"),
        ]
        permissions = [("erase_consentevent", "Can erase a number from the consent ledger (GDPR)")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.phone} ({self.get_source_display()})"


class Suppression(models.Model):
    """The numbers an account must not message: derived from the latest `ConsentEvent` per number
    (rebuildable with recipients.consent.suppressions_rebuild), read by every send path."""

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    phone = models.CharField(max_length=80)
    event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "phone"], name="suppression_unique_phone")]

    def __str__(self):
        return self.phone
