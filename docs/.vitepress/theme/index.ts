import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import { PlaygroundMount } from './playground-mount';
import { SequencesFigure } from './sequences-figure';
import './custom.css';

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('TrainingPlayground', PlaygroundMount);
    app.component('SequencesFigure', SequencesFigure);
  },
} satisfies Theme;
