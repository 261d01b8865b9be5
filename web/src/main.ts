// The SPA's entry point: global styles (extracted to a hashed CSS file by
// the build) and the root component.
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('latchkey: no #app element in index.html');
mount(App, { target });
