app_name = "rules_portal"

urlpatterns: list = []
