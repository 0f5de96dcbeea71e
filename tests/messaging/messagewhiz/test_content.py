"""Word spinners, templates and triggers."""


def test_spinner_lifecycle(client, sent):
    words = ["wo", "three", "spinner"]
    spinner = client.spinner_create(name="Fit32", words=words)
    assert spinner == {"id": spinner["id"], "name": "Fit32", "words": words, "enabled": True}
    assert sent("POST", "/api/3/spinner")["json"] == {"name": "Fit32", "words": words}

    assert [s["id"] for s in client.spinner_list(filter={"name": "Fit32"})] == [spinner["id"]]
    sent("GET", "/api/3/spinner")

    path = f"/api/3/spinner/{spinner['id']}"
    updated = client.spinner_update(spinner["id"], name="FirstSpinner")
    assert updated["name"] == "FirstSpinner"
    assert updated["words"] == words
    assert sent("PUT", path)["json"] == {"name": "FirstSpinner"}

    assert client.spinner_patch(spinner["id"], enabled=False)["enabled"] is False
    assert sent("PATCH", path)["json"] == {"enabled": False}

    assert client.spinner_disable(spinner["id"]) is True
    sent("DELETE", path)


def test_template_lifecycle(client, sent):
    template = client.template_create(name="FirstTemplate", body="HI!")
    assert template == {"id": template["id"], "name": "FirstTemplate", "body": "HI!", "enabled": True}
    assert sent("POST", "/api/3/template")["json"] == {"name": "FirstTemplate", "body": "HI!"}

    assert [t["body"] for t in client.template_list(filter={"name": "FirstTemplate"})] == ["HI!"]
    sent("GET", "/api/3/template")

    path = f"/api/3/template/{template['id']}"
    updated = client.template_update(template["id"], name="AnotherTemplateName")
    assert updated == {"id": template["id"], "name": "AnotherTemplateName", "body": "HI!", "enabled": True}
    assert sent("PUT", path)["json"] == {"name": "AnotherTemplateName"}

    assert client.template_disable(template["id"]) is True
    sent("DELETE", path)


def test_trigger_lifecycle(client, sent):
    trigger = client.trigger_create(name="newTrigger")
    assert isinstance(trigger["id"], int)
    assert trigger["enabled"] is True
    assert trigger["short_url"].startswith("https://")
    assert sent("POST", "/api/3/trigger")["json"] == {"name": "newTrigger"}

    assert [t["uuid"] for t in client.trigger_list(filter={"name": "newTrigger"})] == [trigger["uuid"]]
    sent("GET", "/api/3/trigger")

    path = f"/api/3/trigger/{trigger['id']}"
    assert client.trigger_update(trigger["id"], name="#")["name"] == "#"
    assert sent("PUT", path)["json"] == {"name": "#"}

    assert client.trigger_disable(trigger["id"]) is True
    sent("DELETE", path)
