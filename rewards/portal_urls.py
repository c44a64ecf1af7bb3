app_name = "rewards_portal"

urlpatterns: list = []
