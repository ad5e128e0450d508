// booru-tagger dashboard: keyboard shortcuts and in-place decisions. Plain script, no build step; every page works
// without it (forms post and redirect back). Press ? on any page for the map.
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const live = document.getElementById('live');
  const help = document.getElementById('help');
  const queue = document.querySelector('[data-queue]');
  const grid = document.querySelector('[data-grid]');
  const undoStack = [];
  let current = -1;
  let pendingG = false;

  const say = (text) => {
    if (live) live.textContent = text;
  };
  const items = () =>
    queue ? [...queue.querySelectorAll('article.post')] : grid ? [...grid.querySelectorAll('figure')] : [];

  function focusItem(index) {
    const list = items();
    if (list.length === 0) return;
    current = Math.max(0, Math.min(list.length - 1, index));
    for (const [i, el] of list.entries()) el.classList.toggle('current', i === current);
    const el = list[current];
    el.scrollIntoView({ block: queue ? 'start' : 'nearest' });
    if (queue) el.focus({ preventScroll: true });
    say(queue ? (el.querySelector('h2')?.textContent?.trim() ?? '') : `image ${current + 1} of ${list.length}`);
  }

  async function post(verdict, ids) {
    const response = await fetch(`/api/suggestions/${verdict}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ ids }),
    });
    if (!response.ok) throw new Error(`${response.status} ${(await response.text()).slice(0, 200)}`);
    return response.json();
  }

  function markStatus(id, status) {
    for (const el of document.querySelectorAll(`[data-id="${id}"]`)) {
      el.dataset.status = status;
      const box = el.querySelector('input[type="checkbox"]');
      if (box) {
        box.checked = status === 'pending' && !grid;
        box.disabled = status !== 'pending';
      }
      el.classList.remove('selected');
      const state = el.querySelector('.state, .status-text');
      if (state) state.textContent = status;
      let badge = el.querySelector('[data-live-status]');
      if (!badge) {
        badge = document.createElement('span');
        badge.dataset.liveStatus = '';
        badge.className = 'status';
        (el.querySelector('.row-buttons') ?? el.querySelector('figcaption') ?? el).append(badge);
      }
      badge.className = `status status-${status}`;
      badge.textContent = status === 'pending' ? '' : `${status} (u undoes)`;
    }
  }

  async function decide(verdict, ids) {
    if (ids.length === 0) {
      say('nothing selected');
      return;
    }
    try {
      const result = await post(verdict, ids);
      const status = verdict === 'approve' ? 'approved' : 'rejected';
      for (const id of result.changed) markStatus(id, status);
      if (result.changed.length > 0) undoStack.push(result.changed);
      const skipped = result.skipped.length ? `, skipped ${result.skipped.length}: ${result.skipped[0].why}` : '';
      say(`${status} ${result.changed.length}${skipped}`);
      updateSelectedCount();
      return result;
    } catch (error) {
      say(`failed: ${error.message}`);
    }
  }

  async function undo() {
    const ids = undoStack.pop();
    if (!ids) {
      say('nothing to undo');
      return;
    }
    try {
      const result = await post('undo', ids);
      for (const id of result.changed) markStatus(id, 'pending');
      say(`undone ${result.changed.length}${result.skipped.length ? `, ${result.skipped[0].why}` : ''}`);
    } catch (error) {
      say(`undo failed: ${error.message}`);
    }
  }

  function pendingIdsOf(el, onlyChecked) {
    return [...el.querySelectorAll('li[data-status="pending"]')]
      .filter((li) => !onlyChecked || li.querySelector('input[type="checkbox"]')?.checked)
      .map((li) => Number(li.dataset.id));
  }

  function selectedGridIds() {
    return [...grid.querySelectorAll('figure[data-status="pending"] input[type="checkbox"]:checked')].map((b) =>
      Number(b.value),
    );
  }

  function updateSelectedCount() {
    const out = document.querySelector('[data-selected-count]');
    if (out && grid) out.textContent = `${selectedGridIds().length} selected`;
  }

  function toggleGridItem(el, force) {
    const box = el?.querySelector('input[type="checkbox"]');
    if (!box || box.disabled) return;
    box.checked = force ?? !box.checked;
    el.classList.toggle('selected', box.checked);
    updateSelectedCount();
  }

  async function act(verdict) {
    const list = items();
    if (queue) {
      if (current < 0) focusItem(0);
      const el = items()[current];
      if (!el) return;
      const result = await decide(verdict, pendingIdsOf(el, true));
      if (result && result.changed.length > 0 && current < list.length - 1) focusItem(current + 1);
    } else if (grid) {
      let ids = selectedGridIds();
      if (ids.length === 0 && current >= 0) {
        const box = list[current]?.querySelector('input[type="checkbox"]');
        if (box && !box.disabled) ids = [Number(box.value)];
      }
      await decide(verdict, ids);
    }
  }

  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (target?.closest('[data-help]')) {
      event.preventDefault();
      toggleHelp();
    }
    if (target?.closest('[data-select-all]')) {
      const boxes = grid ? [...grid.querySelectorAll('figure')] : [];
      const all = boxes.every((f) => f.querySelector('input:checked') || !f.querySelector('input:enabled'));
      for (const f of boxes) toggleGridItem(f, !all);
    }
  });
  grid?.addEventListener('change', (event) => {
    const figure = event.target instanceof Element ? event.target.closest('figure') : null;
    if (figure) figure.classList.toggle('selected', event.target.checked);
    updateSelectedCount();
  });

  // Decision buttons of the queue and grid forms go through the API when this script runs (no page reload).
  document.addEventListener('submit', (event) => {
    const form = event.target;
    const submitter = event.submitter;
    if (!(form instanceof HTMLFormElement) || form.getAttribute('action') !== '/suggestions/decide') return;
    if (submitter?.name !== 'decision') return;
    const [verdict, target] = String(submitter.value).split(':');
    let ids;
    if (target === 'selected') {
      ids = [...form.querySelectorAll('input[name="ids"]:checked:enabled')].map((b) => Number(b.value));
    } else ids = [Number(target)];
    event.preventDefault();
    if (verdict === 'undo') {
      post('undo', ids).then((result) => {
        for (const id of result.changed) markStatus(id, 'pending');
        say(`undone ${result.changed.length}`);
      });
    } else decide(verdict, ids);
  });

  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    const typing =
      target instanceof HTMLElement &&
      (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) &&
      !(target instanceof HTMLInputElement && target.type === 'checkbox');
    if (typing) return;
    const key = event.key;
    if (pendingG) {
      pendingG = false;
      const to = { q: '/', t: '/tags', l: '/audit' }[key];
      if (to) {
        event.preventDefault();
        location.href = to;
      }
      return;
    }
    if (help?.open && key !== '?') return;
    const list = items();
    switch (key) {
      case '?':
        toggleHelp();
        break;
      case 'j':
      case 'ArrowDown':
        if (list.length === 0) return;
        focusItem(current + 1);
        break;
      case 'k':
      case 'ArrowUp':
        if (list.length === 0) return;
        focusItem(current < 0 ? 0 : current - 1);
        break;
      case 'a':
        act('approve');
        break;
      case 'r':
        act('reject');
        break;
      case 'u':
        undo();
        break;
      case 'x':
        if (queue) {
          if (current < 0) focusItem(0);
          const boxes = [...(items()[current]?.querySelectorAll('input[type="checkbox"]:enabled') ?? [])];
          const all = boxes.every((b) => b.checked);
          for (const b of boxes) b.checked = !all;
        } else if (grid && current >= 0) toggleGridItem(list[current]);
        else return;
        break;
      case '*':
        document.querySelector('[data-select-all]')?.click();
        break;
      case 'o':
      case 'Enter': {
        if (current < 0 || (key === 'Enter' && target instanceof HTMLInputElement)) return;
        const postId = list[current]?.dataset.postId;
        if (!postId) return;
        location.href = `/posts/${postId}`;
        break;
      }
      case 'g':
        pendingG = true;
        break;
      default:
        if (queue && /^[1-9]$/.test(key)) {
          if (current < 0) focusItem(0);
          const li = items()[current]?.querySelectorAll('ol.suggestions li')[Number(key) - 1];
          const box = li?.querySelector('input[type="checkbox"]:enabled');
          if (!box) return;
          box.checked = !box.checked;
          say(`${box.checked ? 'checked' : 'unchecked'} ${li.querySelector('.tagname')?.textContent ?? ''}`);
          break;
        }
        return;
    }
    event.preventDefault();
  });
})();
