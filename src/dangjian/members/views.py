from django.http import Http404


def member_list(request, *args, **kwargs):
    raise Http404


def member_create(request, *args, **kwargs):
    raise Http404


def my_record(request, *args, **kwargs):
    raise Http404


def member_detail(request, *args, **kwargs):
    raise Http404


def member_edit(request, *args, **kwargs):
    raise Http404


def member_reveal(request, *args, **kwargs):
    raise Http404


def event_create(request, *args, **kwargs):
    raise Http404


def photo_upload(request, *args, **kwargs):
    raise Http404


def related_edit(request, *args, **kwargs):
    raise Http404


def related_delete(request, *args, **kwargs):
    raise Http404


def document_upload(request, *args, **kwargs):
    raise Http404


def document_download(request, *args, **kwargs):
    raise Http404


def document_delete(request, *args, **kwargs):
    raise Http404
