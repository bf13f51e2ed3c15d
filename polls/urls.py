from django.urls import path

from polls import api, engagement, sharing, views, widget

app_name = "polls"

urlpatterns = [
    # Django tries these in order: what other sites' readers send most (the widget, its token
    # and vote, the seen beacon) comes first, before the pages.
    path("polls/<slug:slug>/embed/", widget.widget, name="embed"),
    path("polls/<slug:slug>/embed/vote/", widget.widget_vote, name="embed_vote"),
    path("polls/<slug:slug>/embed/token/", widget.widget_token, name="embed_token"),
    path("polls/<slug:slug>/seen/", engagement.seen, name="seen"),
    path("", views.index, name="index"),
    path("polls/archive/", views.archive, name="archive"),
    path("polls/<slug:slug>/", views.poll_detail, name="detail"),
    path("polls/<slug:slug>/vote/", views.vote, name="vote"),
    path("polls/<slug:slug>/token/", views.vote_token, name="vote_token"),
    path("polls/<slug:slug>/results/", views.results, name="results"),
    path("polls/<slug:slug>/card.png", sharing.share_card, name="share_card"),
    path("embed/themes/<slug:slug>.css", widget.theme_css, name="theme_css"),
    path("api/polls/<slug:slug>/results", api.results_json, name="api_results"),
    path("articles/", views.article_list, name="articles"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
]
