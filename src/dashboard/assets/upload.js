// The upload page: drop, paste or choose an image (or give a URL), post it with the session's CSRF token, and show the
// HTML fragment the server renders. Plain JavaScript, no build step (DESIGN §6).
(() => {
  const form = document.getElementById('upload-form');
  if (!form) return;
  const drop = document.getElementById('drop');
  const fileInput = document.getElementById('upload-file');
  const urlInput = document.getElementById('upload-url');
  const threshold = document.getElementById('upload-threshold');
  const preview = document.getElementById('upload-preview');
  const result = document.getElementById('upload-result');
  const live = document.getElementById('live');
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

  const showPreview = (file) => {
    if (!file) {
      // A URL is shown from where it is (the CSP allows http(s) images); nothing else has a preview.
      const url = urlInput.value.trim();
      preview.hidden = !/^https?:\/\//.test(url);
      if (!preview.hidden) preview.src = url;
      return;
    }
    // A data: URL, because the page's CSP allows data: images but not blob: ones.
    const reader = new FileReader();
    reader.onload = () => {
      preview.src = String(reader.result);
      preview.hidden = false;
    };
    reader.readAsDataURL(file);
  };

  const send = async (file) => {
    const body = new FormData();
    if (file) body.append('file', file, file.name || 'pasted.png');
    else if (urlInput.value.trim()) body.append('url', urlInput.value.trim());
    body.append('threshold', threshold.value || '0.1');
    result.setAttribute('aria-busy', 'true');
    result.textContent = 'Tagging…';
    try {
      const response = await fetch('/upload', {
        method: 'POST',
        body,
        headers: { 'x-csrf-token': csrf },
        credentials: 'same-origin',
      });
      result.innerHTML = await response.text();
      if (live) live.textContent = response.ok ? 'Tags ready' : 'Tagging failed';
    } catch (error) {
      result.textContent = `Tagging failed: ${error}`;
    } finally {
      result.removeAttribute('aria-busy');
    }
  };

  const take = (file) => {
    if (!file) return;
    showPreview(file);
    void send(file);
  };

  // The Tag button: a typed URL wins over a file chosen earlier.
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = urlInput.value.trim() ? null : (fileInput.files?.[0] ?? null);
    showPreview(file);
    void send(file);
  });
  fileInput.addEventListener('change', () => take(fileInput.files?.[0]));
  for (const name of ['dragenter', 'dragover']) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const name of ['dragleave', 'drop']) drop.addEventListener(name, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    const file = [...(event.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/'));
    if (file) return take(file);
    const text = event.dataTransfer?.getData('text/uri-list') || event.dataTransfer?.getData('text/plain');
    if (text) {
      urlInput.value = text.split('\n')[0].trim();
      showPreview(null);
      void send(null);
    }
  });
  document.addEventListener('paste', (event) => {
    if (event.target === urlInput) return;
    const item = [...(event.clipboardData?.items ?? [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    if (!item) return;
    event.preventDefault();
    take(item.getAsFile());
  });
})();
