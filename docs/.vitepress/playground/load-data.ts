/**
 * Loads the two CSV files of the benchmark suite (bench/data) that the playground trains on. They
 * are served by the site itself: Vite copies them into the build as assets.
 */
import breastCancerUrl from '../../../bench/data/breast_cancer.csv?url';
import digitsUrl from '../../../bench/data/digits.csv?url';
import { type Dataset, type DatasetName, parse } from './data';

const urls: Record<DatasetName, string> = { digits: digitsUrl, breast_cancer: breastCancerUrl };
const cache = new Map<DatasetName, Promise<Dataset>>();

/** Loads a dataset once per page; the test split is a fixed, seeded fifth of the rows. */
export function loadDataset(name: DatasetName): Promise<Dataset> {
  let loading = cache.get(name);
  if (!loading) {
    loading = fetch(urls[name])
      .then((response) => {
        if (!response.ok) throw new Error(`could not load ${name}.csv (HTTP ${response.status})`);
        return response.text();
      })
      .then((text) => parse(name, text));
    loading.catch(() => cache.delete(name));
    cache.set(name, loading);
  }
  return loading;
}
