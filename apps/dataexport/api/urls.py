from rest_framework.routers import SimpleRouter

from .views import DataExportViewSet

router = SimpleRouter()
router.register("data-exports", DataExportViewSet, basename="data-export")
urlpatterns = router.urls
