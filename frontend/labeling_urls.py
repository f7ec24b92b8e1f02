"""Pages of the labeling workforce: teams, labeling jobs, the annotator workbench, the job dashboard."""

urlpatterns: list = []
