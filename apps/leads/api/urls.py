from rest_framework.routers import SimpleRouter

from .views import LeadSourceViewSet, LeadViewSet, WebFormViewSet

router = SimpleRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("lead-sources", LeadSourceViewSet, basename="lead-source")
router.register("forms", WebFormViewSet, basename="web-form")
urlpatterns = router.urls
