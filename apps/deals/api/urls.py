from rest_framework.routers import SimpleRouter

from .views import DealViewSet, LostReasonViewSet, PipelineViewSet, StageViewSet

router = SimpleRouter()
router.register("pipelines", PipelineViewSet, basename="pipeline")
router.register("stages", StageViewSet, basename="stage")
router.register("lost-reasons", LostReasonViewSet, basename="lost-reason")
router.register("deals", DealViewSet, basename="deal")
urlpatterns = router.urls
