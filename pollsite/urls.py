from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from polls import health, oembed, widget
from polls.admin_forms import SignInForm
from polls.sign_in_throttle import lockout_page

admin.site.site_header = f"{settings.SITE_NAME} polls"
admin.site.site_title = f"{settings.SITE_NAME} polls"
admin.site.index_title = "Polls and articles"
admin.site.login_form = SignInForm

urlpatterns = [
    # The admin's sign-in, ahead of the admin's own route to it: the only place anyone signs in,
    # so the only view that needs django-axes's lockout page.
    path(f"{settings.ADMIN_URL}login/", lockout_page(admin.site.login)),
    path(settings.ADMIN_URL, admin.site.urls),
    # Browsers and feed readers ask for /favicon.ico whatever the page says; the file is static.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.ico")),
    path("healthz", health.process_health, name="health"),
    path("healthz/db", health.database_health, name="health_db"),
    path("embed.js", widget.embed_js, name="embed_js"),
    path("oembed", oembed.oembed, name="oembed"),
    path("", include("polls.urls")),
]

handler400 = "polls.views.bad_request"
handler403 = "polls.views.permission_denied"
handler404 = "polls.views.page_not_found"
handler500 = "polls.views.server_error"
