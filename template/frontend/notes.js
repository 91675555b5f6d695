// The notes of the signed-in user: the example resource (see the README's
// "Extending"). Delete this file, its <script> tag and the notes <section>
// in index.html to remove it.

import { api, call, onSession, show } from './app.js';

Object.assign(api, {
  // `after` is the `next` cursor of the previous page.
  listNotes: (after) =>
    call('GET', '/api/notes' + (after ? `?after=${encodeURIComponent(after)}` : '')),
  createNote: (title, body) => call('POST', '/api/notes', { title, body }),
  updateNote: (id, changes) => call('PATCH', `/api/notes/${id}`, changes),
  deleteNote: (id) => call('DELETE', `/api/notes/${id}`),
});

const section = document.querySelector('#notes-section');
const list = document.querySelector('#notes');
const more = document.querySelector('#more-notes');
let next = null;

/** Shows one page of notes, after the ones shown (the first page when `after` is null). */
async function load(after) {
  const result = await api.listNotes(after);
  if (result.status !== 200) {
    show(result);
    return;
  }
  if (!after) list.replaceChildren();
  for (const note of result.body.notes) {
    const item = document.createElement('li');
    const title = document.createElement('h3');
    title.textContent = note.title; // text, never HTML: notes are user input
    const body = document.createElement('div');
    body.textContent = note.body;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      show(await api.deleteNote(note.id));
      await load(null);
    });
    item.append(title, body, remove);
    list.append(item);
  }
  next = result.body.next;
  more.hidden = !next;
}

onSession((user) => {
  section.hidden = !user;
  if (user) load(null);
});

document.querySelector('#new-note').addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = await api.createNote(
    document.querySelector('#note-title').value,
    document.querySelector('#note-body').value,
  );
  show(result);
  if (result.status === 201) {
    event.target.reset();
    await load(null);
  }
});

more.addEventListener('click', () => load(next));
