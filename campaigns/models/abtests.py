"""A/B tests: a broadcast whose 2 to 4 variants go to random, disjoint samples first; at the decision
time the best one goes to everyone else (campaigns.abtests).

The tested broadcast is the parent. Each variant's send is a child broadcast (role VARIANT) to its
own sample list, the winner's a child broadcast (role WINNER) to the list of everyone in no sample;
both go through the ordinary sending machinery and policy check.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class AbTest(models.Model):
    class Metric(models.TextChoices):
        DELIVERY = "delivery", "Delivery rate (delivered ÷ sent)"
        CTR = "ctr", "Click-through rate (recipients who clicked ÷ delivered)"
        CONVERSION = "conversion", "Conversion (recipients who clicked ÷ recipients)"

    class State(models.TextChoices):
        DRAFT = "draft", "Not started"
        TESTING = "testing", "Testing the variants"
        DECIDED = "decided", "Winner chosen"
        STOPPED = "stopped", "Stopped: no winner sent"

    broadcast = models.OneToOneField("campaigns.Broadcast", on_delete=models.CASCADE, related_name="abtest")
    share = models.PositiveSmallIntegerField(
        "test share (%)", validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Of the recipients, split evenly between the variants; the rest get the winner")
    metric = models.CharField("winner metric", max_length=10, choices=Metric.choices, default=Metric.CTR)
    decide_after = models.DurationField(help_text="How long after the variants go out the winner is chosen")
    # The samples are the audience in md5(seed || phone) order, cut into equal slices: the same
    # seed and audience give the same samples.
    seed = models.CharField(max_length=32, editable=False)
    state = models.CharField(max_length=7, choices=State.choices, default=State.DRAFT, editable=False)
    decide_at = models.DateTimeField(null=True, blank=True, editable=False)
    audience = models.PositiveIntegerField(null=True, blank=True, editable=False)
    rest_list = models.ForeignKey("recipients.RecipientList", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", editable=False)
    winner = models.ForeignKey("campaigns.AbVariant", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", editable=False)
    # Why the winner won, with the two-proportion z-test against the runner-up, as shown on the page.
    decision = models.JSONField(default=dict, blank=True, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "A/B test"

    def __str__(self):
        return f"A/B test of {self.broadcast}"


class AbVariant(models.Model):
    test = models.ForeignKey(AbTest, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1)  # A, B, C, D
    body = models.TextField(blank=True)
    template = models.ForeignKey("campaigns.Template", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    senders = models.ManyToManyField("messaging.Sender", blank=True, related_name="+")
    sender_lists = models.ManyToManyField("messaging.SenderList", blank=True, related_name="+")
    sample_list = models.ForeignKey("recipients.RecipientList", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)
    broadcast = models.OneToOneField("campaigns.Broadcast", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="abvariant", editable=False)

    class Meta:
        ordering = ["label"]
        constraints = [models.UniqueConstraint(fields=["test", "label"], name="abvariant_unique_label")]

    def __str__(self):
        return f"Variant {self.label}"
