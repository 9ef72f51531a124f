"""`/api/v1/report-subscriptions/`, included by the reports API URLs."""

from rest_framework.routers import SimpleRouter

from .subscriptions import SubscriptionViewSet

router = SimpleRouter()
router.register("report-subscriptions", SubscriptionViewSet, basename="report-subscription")
urlpatterns = router.urls
