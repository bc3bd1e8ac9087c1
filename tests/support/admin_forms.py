"""Read an admin page's form the way a browser would submit it (inline management forms included)."""

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data = {}
        self._select = None
        self._select_multiple = False
        self._textarea = None

    def _put(self, name, value, multiple=False):
        if multiple:
            self.data.setdefault(name, []).append(value)
        else:
            self.data[name] = value

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = self.form_id is None or attrs.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._put(name, attrs.get("value", "on"), multiple=kind == "checkbox")
                return
            self.data[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_multiple = name, "multiple" in attrs
            if self._select_multiple:
                self.data.setdefault(name, [])
            else:
                self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self._put(self._select, attrs.get("value", ""), multiple=self._select_multiple)
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n") if not self.data[self._textarea] else data


def form_data(response, form_id=None, **overrides):
    """The values the page's form would submit, with ``overrides`` applied."""
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    data = {k: v for k, v in reader.data.items() if k != "csrfmiddlewaretoken"}
    data.update(overrides)
    return data


def submit(http, url, **overrides):
    """GET the admin form at ``url`` and POST it back with ``overrides``."""
    page = http.get(url)
    assert page.status_code == 200, page.status_code
    model = url.strip("/").split("/")[2]
    form_id = f"{model}_form"
    return http.post(url, form_data(page, form_id, **overrides))
