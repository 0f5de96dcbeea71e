from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

from messaging.mirror import MirroredModel


class Campaign(MirroredModel):
    """Groups broadcasts under one name for a period of time."""

    name = models.CharField(max_length=255)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    is_default = models.BooleanField(default=False, editable=False)

    class Meta(MirroredModel.Meta):
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def clean(self):
        # Only edits here are refused: a pull stores MessageWhiz's dates as they are (bulk writes,
        # no clean), so a campaign edited there never makes a pull fail.
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date is before the start date."})


class Template(MirroredModel):
    name = models.CharField(max_length=255)
    body = models.TextField()
    # India's DLT registration (TRAI): sent to generic providers as $$DltTemplateId / $$DltEntityId.
    dlt_template_id = models.CharField("DLT template id", max_length=30, blank=True)
    dlt_entity_id = models.CharField("DLT entity id", max_length=30, blank=True)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class Link(MirroredModel):
    """A tracked link, inserted into messages as {{link:ID}}."""

    name = models.CharField(max_length=255)
    url = models.CharField(max_length=2048, validators=[URLValidator()])
    bot_redirect = models.CharField(
        max_length=2048, blank=True, validators=[URLValidator()],
        help_text="Where recipients who click from a PC are sent",
    )
    preview_url = models.CharField(
        max_length=2048, blank=True, validators=[URLValidator()], help_text="Shown as the link's preview"
    )
    conversion = models.FloatField(null=True, blank=True, editable=False)
    total_recipients = models.PositiveIntegerField(null=True, blank=True, editable=False)
    clicks = models.PositiveIntegerField(null=True, blank=True, editable=False)
    conversion_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    conversion_error = models.TextField(blank=True, editable=False)  # why the last refresh failed

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class LinkList(MirroredModel):
    """Links spread evenly over a broadcast's recipients via {{link_list:ID}}."""

    name = models.CharField(max_length=255)
    links = models.ManyToManyField(Link, blank=True, related_name="link_lists")

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class WordSpinner(MirroredModel):
    """Synonyms picked at random per message via {{word_spinner:ID}}."""

    name = models.CharField(max_length=255)
    words = models.JSONField(default=list)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name


class Trigger(MirroredModel):
    """Holds a broadcast back until its short URL is opened."""

    name = models.CharField(max_length=255)
    uuid = models.CharField(max_length=64, blank=True, editable=False)
    short_url = models.CharField(max_length=255, blank=True, editable=False)
    trigger_type_id = models.IntegerField(null=True, blank=True, editable=False)

    class Meta(MirroredModel.Meta):
        ordering = ["name"]

    def __str__(self):
        return self.name
