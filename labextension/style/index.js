// The stylesheet, imported by the JupyterLab builder (package.json "styleModule").
import './index.css';
