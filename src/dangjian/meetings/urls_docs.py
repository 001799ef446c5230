"""Documents and year pages of organisational life: a meeting's record, the minute book, the
appraisal and planning the year."""

from django.urls import path

from . import views_docs

urlpatterns = [
    path("<int:pk>/record.docx", views_docs.record_docx, name="record_docx"),
    path("<int:pk>/record.pdf", views_docs.record_pdf, name="record_pdf"),
    path("<int:pk>/appraisal/", views_docs.appraisal, name="appraisal"),
    path("book/", views_docs.book_pdf, name="book_pdf"),
    path("plan/", views_docs.plan, name="plan"),
]
