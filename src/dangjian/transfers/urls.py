from django.urls import path

from . import views

app_name = "transfers"

urlpatterns = [
    path("", views.transfer_list, name="list"),
    path("targets/", views.transfer_targets, name="targets"),
    path("start/<int:member_pk>/", views.transfer_start, name="start"),
    path("group/", views.group_start, name="start_group"),
    path("<int:pk>/", views.transfer_detail, name="detail"),
    path("<int:pk>/accept/", views.transfer_accept, name="accept"),
    path("<int:pk>/return/", views.transfer_return, name="return"),
    path("<int:pk>/cancel/", views.transfer_cancel, name="cancel"),
    path("<int:pk>/accept-batch/", views.batch_accept, name="accept_batch"),
    # letters out of the platform
    path("letter/<int:member_pk>/", views.letter_issue, name="issue_letter"),
    path("<int:pk>/letter.pdf", views.letter_pdf, name="letter_pdf"),
    path("<int:pk>/letter.docx", views.letter_docx, name="letter_docx"),
    path("<int:pk>/receipt/", views.letter_receipt, name="record_receipt"),
    # letters into the platform
    path("incoming/new/", views.incoming_register, name="register_incoming"),
    path("<int:pk>/confirm/", views.incoming_confirm, name="confirm_incoming"),
    # mobile members
    path("mobile/", views.mobile_list, name="mobile"),
    path("mobile/out/<int:member_pk>/", views.mobile_out, name="mobile_out"),
    path("mobile/in/", views.mobile_in, name="mobile_in"),
    path("mobile/<int:pk>/return/", views.mobile_end, name="mobile_end"),
    path("mobile/<int:pk>/convert/", views.mobile_convert, name="mobile_convert"),
    # members out of contact
    path("contact/", views.contact_list, name="contact"),
    path("contact/<int:member_pk>/", views.contact_mark, name="contact_mark"),
    path("contact/<int:member_pk>/decide/", views.contact_decide, name="contact_decide"),
]
