from django.urls import path

from polls import views

app_name = "polls"

urlpatterns = [
    path("", views.index, name="index"),
    path("polls/archive/", views.archive, name="archive"),
    path("polls/<slug:slug>/", views.poll_detail, name="detail"),
    path("polls/<slug:slug>/vote/", views.vote, name="vote"),
    path("polls/<slug:slug>/results/", views.results, name="results"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
]
