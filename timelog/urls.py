from django.urls import path

from timelog import contact_urls, summary_urls, views

app_name = "timelog"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("time/", views.time_entry_list, name="time-entry-list"),
    path("patients/<uuid:patient_id>/time/new/", views.time_entry_new, name="time-entry-new"),
    path("time/<uuid:entry_id>/edit/", views.time_entry_edit, name="time-entry-edit"),
    path("time/<uuid:entry_id>/delete/", views.time_entry_delete, name="time-entry-delete"),
    path("time/<uuid:entry_id>/adjust/", views.time_entry_adjust, name="time-entry-adjust"),
    path("timer/start/", views.timer_start, name="timer-start"),
    path("timer/stop/", views.timer_stop, name="timer-stop"),
    path("timer/discard/", views.timer_discard, name="timer-discard"),
    path("tasks/", views.task_list, name="task-list"),
    path("patients/<uuid:patient_id>/tasks/new/", views.task_new, name="task-new"),
    path("tasks/<uuid:task_id>/", views.task_detail, name="task-detail"),
    path("tasks/<uuid:task_id>/reassign/", views.task_reassign, name="task-reassign"),
    path("tasks/<uuid:task_id>/complete/", views.task_complete, name="task-complete"),
    *contact_urls.urlpatterns,
]

urlpatterns += summary_urls.urlpatterns
