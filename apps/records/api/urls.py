from rest_framework.routers import SimpleRouter

from .views import CustomFieldViewSet, MergeViewSet, TagViewSet

router = SimpleRouter()
router.register("tags", TagViewSet, basename="tag")
router.register("custom-fields", CustomFieldViewSet, basename="custom-field")
router.register("merges", MergeViewSet, basename="merge")
urlpatterns = router.urls
