from rest_framework.routers import SimpleRouter

from .views import ImportViewSet

router = SimpleRouter()
router.register("imports", ImportViewSet, basename="import")
urlpatterns = router.urls
