from rest_framework.routers import SimpleRouter

from .views import ContactLinkViewSet, ContactViewSet

router = SimpleRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("contact-links", ContactLinkViewSet, basename="contact-link")
urlpatterns = router.urls
