// Entry point of the fans' web app (DESIGN.md §13). Pages and the seat map are built on this.
const root = document.getElementById('app');
if (root) root.textContent = 'Tickets';
