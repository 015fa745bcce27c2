// `npm start`: the one-machine launcher (see launcher.ts).
import { runLauncher } from './launcher';

runLauncher();
