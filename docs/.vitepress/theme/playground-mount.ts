/**
 * Mounts the playground (plain DOM, see ../playground/ui.ts) once the page runs in a browser. Its
 * code, and every backend library, loads only on the playground page.
 */
import { defineComponent, h, onBeforeUnmount, onMounted, ref } from 'vue';

export const PlaygroundMount = defineComponent({
  name: 'TrainingPlayground',
  setup() {
    const root = ref<HTMLElement>();
    let dispose: (() => void) | undefined;
    let left = false;
    onMounted(async () => {
      const { mountPlayground } = await import('../playground/ui');
      if (!left && root.value) dispose = mountPlayground(root.value).dispose;
    });
    onBeforeUnmount(() => {
      left = true;
      dispose?.();
    });
    return () =>
      h('div', { ref: root, class: 'pg', 'data-state': 'loading' }, [
        h('p', { class: 'pg-summary' }, 'Loading the playground…'),
        h('noscript', {}, 'The playground trains in your browser and needs JavaScript.'),
      ]);
  },
});
