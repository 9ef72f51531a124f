from django.db import models


class ContactScore(models.Model):
    """A per-contact figure, as a feature shipped in a later release would add."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE)
    score = models.IntegerField(default=0)
    tier = models.CharField(max_length=20, default="", blank=True)

    class Meta:
        indexes = [models.Index(fields=["tier", "score"], name="migrapp_score_tier")]

    def __str__(self) -> str:
        return f"{self.pk}: {self.score}"
