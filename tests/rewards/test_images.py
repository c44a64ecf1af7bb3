"""Reward images: uploaded in the console, shown on the portal's catalogue."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from rewards.models import Reward

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _png(name: str = "mug.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _form(program, **extra) -> dict:
    return {
        "program": program.pk, "name": "Mug", "description": "", "image_url": "",
        "points_cost": 100, "kind": "free_product", "value": "0", "stock": "",
        "per_member_limit": "", "starts_at_0": "", "starts_at_1": "", "ends_at_0": "",
        "ends_at_1": "", "voucher_valid_days": "30", "is_active": "on", **extra,
    }


def test_an_owner_uploads_a_reward_image_in_the_console(owner_client, program, tmp_path):
    response = owner_client.post(reverse("admin:rewards_reward_add"),
                                 _form(program, image=_png()))

    assert response.status_code == 302, response.context["adminform"].form.errors
    reward = Reward.objects.get()
    assert reward.image.name.startswith("rewards/")
    assert (tmp_path / reward.image.name).is_file()
    assert reward.image_src == reward.image.url


def test_a_file_that_is_not_an_image_is_refused(owner_client, program):
    fake = SimpleUploadedFile("mug.png", b"not an image", content_type="image/png")

    response = owner_client.post(reverse("admin:rewards_reward_add"), _form(program, image=fake))

    assert response.status_code == 200
    assert "image" in response.context["adminform"].form.errors
    assert not Reward.objects.exists()


def test_clearing_the_image_falls_back_to_the_image_url(owner_client, program):
    owner_client.post(reverse("admin:rewards_reward_add"), _form(program, image=_png()))
    reward = Reward.objects.get()

    response = owner_client.post(
        reverse("admin:rewards_reward_change", args=[reward.pk]),
        _form(program, **{"image-clear": "on", "image_url": "https://cdn.example.com/mug.png"}),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    reward.refresh_from_db()
    assert not reward.image
    assert reward.image_src == "https://cdn.example.com/mug.png"


def test_the_portal_catalogue_shows_the_uploaded_image(owner_user, customer_client, program,
                                                       funded):
    owner_client = Client()
    owner_client.force_login(owner_user)
    owner_client.post(reverse("admin:rewards_reward_add"), _form(program, image=_png()))
    reward = Reward.objects.get()

    page = customer_client.get(reverse("rewards_portal:catalog")).content.decode()

    assert f'<img src="{reward.image.url}"' in page
    assert reward.image.url.startswith("/media/rewards/")
