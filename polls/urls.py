from django.urls import path

from polls import embed_views, views

app_name = "polls"

urlpatterns = [
    path("", views.index, name="index"),
    path("polls/archive/", views.archive, name="archive"),
    path("polls/<slug:slug>/", views.poll_detail, name="detail"),
    path("polls/<slug:slug>/vote/", views.vote, name="vote"),
    path("polls/<slug:slug>/token/", views.vote_token, name="vote_token"),
    path("polls/<slug:slug>/results/", views.results, name="results"),
    path("polls/<slug:slug>/embed/", embed_views.widget, name="embed"),
    path("polls/<slug:slug>/embed/vote/", embed_views.widget_vote, name="embed_vote"),
    path("polls/<slug:slug>/embed/token/", embed_views.widget_token, name="embed_token"),
    path("api/polls/<slug:slug>/results", embed_views.results_json, name="api_results"),
    path("articles/", views.article_list, name="articles"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
]
