from __future__ import annotations

from rest_framework import serializers

from ..models import FailedTask


class FailedTaskSerializer(serializers.ModelSerializer[FailedTask]):
    resolved = serializers.SerializerMethodField()

    class Meta:
        model = FailedTask
        fields = [
            "id",
            "task_name",
            "task_id",
            "job_kind",
            "object_id",
            "attempts",
            "error",
            "traceback",
            "created_at",
            "resolved",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields

    def get_resolved(self, task: FailedTask) -> bool:
        return task.resolved_at is not None
